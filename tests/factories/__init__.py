"""factory-boy factories for the tests; production code never imports these."""
