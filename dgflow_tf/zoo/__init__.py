"""Reference models with known answers or small trainers."""
