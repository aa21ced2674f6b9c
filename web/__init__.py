"""The web host: FastAPI app, CLI, composition root and the Alembic environment."""
