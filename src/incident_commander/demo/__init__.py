"""The demo: a real local service with good and bad releases, and a scripted incident."""
