"""Datasets the course uses; each loader works offline from data/ and verifies what it reads."""
