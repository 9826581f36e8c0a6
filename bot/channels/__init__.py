"""One adapter per platform; each renders replies and delivers outbound messages (`deliver`)."""
