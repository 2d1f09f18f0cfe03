"""The web console's use cases: who may log in and how, and what each page shows."""
