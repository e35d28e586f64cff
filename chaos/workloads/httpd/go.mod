module kubechaos.local/httpd

go 1.24
