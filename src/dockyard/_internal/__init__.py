"""Small named helpers shared by the server-side layers."""
