"""The distributed shape, tested without Docker: docker-compose.yaml's services started as local processes."""
