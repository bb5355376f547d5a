"""The server's process plumbing behind one `serve()`: uvicorn's workers, the connection
policy that keeps hostile clients from exhausting them, memory and logs."""
