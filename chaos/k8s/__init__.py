"""The only package that imports the kubernetes client; it translates its errors into ours."""
