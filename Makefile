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

# The load suite (direct, group, offline, mixed, connect) against a local 3-node fleet it starts and stops; about
# 2 minutes. Reports: build/load-results/<time>-suite/<scenario>/report.html and report.json.
load: install
	@dotnet run -c Release --project LoadTests -- suite --local 3
