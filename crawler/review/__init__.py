"""What people look at: review queries, the web app and exports."""
