"""The deployment recipe (nginx in front of gunicorn) and its loopback runner."""
