# erpcrm production image: one image for the web app (waitress), the Celery worker and beat.
# Settings: erpcrm.settings.production; every setting comes from the environment (README,
# "Configuration"). See docker-compose.yml for the full production shape.
FROM python:3.11-slim-bookworm

# The code runs from /app (templates, static and locale are found next to manage.py), not
# from site-packages; console scripts (waitress-serve, celery) need /app on the path.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=erpcrm.settings.production \
    DJANGO_STATIC_ROOT=/app/staticfiles

RUN groupadd --system --gid 10001 erpcrm \
    && useradd --system --uid 10001 --gid erpcrm --home-dir /app --shell /usr/sbin/nologin erpcrm

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Code stays owned by root: the app user can read it, not change it.
COPY . .

# Static files are collected at build time; whitenoise serves them from the WSGI app. The
# values below exist only for this command (production settings refuse to start without them).
RUN DJANGO_SECRET_KEY=collectstatic-only \
    DJANGO_ALLOWED_HOSTS=localhost \
    FIELD_ENCRYPTION_KEYS=Y29sbGVjdHN0YXRpYy1vbmx5LWtleS0wMDAwMDAwMDA= \
    CELERY_BROKER_URL=memory:// \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var \
    && chown erpcrm:erpcrm /app/var

USER erpcrm
EXPOSE 8000

CMD ["waitress-serve", "--listen=0.0.0.0:8000", "--threads=8", "erpcrm.wsgi:application"]
