"""社情民意 and 电子监察: the figures as tested SQL queries, and `hotline report`."""
