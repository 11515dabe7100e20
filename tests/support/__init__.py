"""Helpers shared by test areas (published Dataverse exchanges, ...)."""
