# Developer entry points. The logic lives in scripts/; see scripts/services.sh for ports and data dirs.
SERVICES := scripts/services.sh

.PHONY: install services stop test run load

install:
	@$(SERVICES) install

services: install
	@$(SERVICES) start all

# Nodes from `make run` first, then the services they depend on.
stop:
	@scripts/run-node.sh stop
	@$(SERVICES) stop all

# Starts the services it needs and stops only those it started.
test: install
	@scripts/test.sh

run: services
	@scripts/run-node.sh

# A short 1:1 benchmark against a node started for it (scripts/bench.sh starts and stops the node).
load: install
	@scripts/bench.sh direct --pairs 200 --window 10 --duration 15s
