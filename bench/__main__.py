"""Run every benchmark in turn: ``python -m bench``."""

from bench import (
    campaigns_batch,
    campaigns_costs,
    campaigns_create,
    campaigns_enrichment,
    campaigns_latency,
    campaigns_stats,
    clone_speed,
    rpc_overhead,
    tenancy_overhead,
)

for module in (
    clone_speed,
    rpc_overhead,
    campaigns_batch,
    campaigns_create,
    campaigns_stats,
    campaigns_costs,
    campaigns_enrichment,
    campaigns_latency,
    tenancy_overhead,
):
    module.main()
    print()
