"""HTTP routers of the web host, one module per resource."""
