# Developer entry points. The logic lives in scripts/; see scripts/services.sh for ports and data dirs.
SERVICES := scripts/services.sh

.PHONY: install services stop test run load soak

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

# The soak: a local fleet of 4 nodes under the mixed load with idle clients, a fault every 30 s (join, drain,
# SIGTERM, kill -9 then restart, Redis master kill, etcd outage) for 10 minutes. Exits non-zero on any loss, any
# message shown twice, or a fault that could not be injected. Reports: build/load-results/<time>-soak/report.html.
soak: install
	@dotnet run -c Release --project LoadTests -- soak --duration 10m --fault-every 30s --warmup 5s \
		--pairs 40 --group-size 20 --groups 2 --rate 400 --idle 1000
