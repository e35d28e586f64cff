# tests/e2e_ha needs a 3-control-plane cluster of its own (5 node containers and two haproxy
# containers, about 9 minutes): `make test` leaves it out, `make test-ha` (tox -e ha) runs it.
collect_ignore = ["e2e_ha"]
