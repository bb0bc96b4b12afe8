"""A fleet of Locust processes as one run: the workers' lines streamed to the master."""
