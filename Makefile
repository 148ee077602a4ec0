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

load: services
	@eval "$$($(SERVICES) env)" && dotnet run -c Release --project LoadTests -- bench
