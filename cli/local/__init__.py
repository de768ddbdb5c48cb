"""Local runtime: the synthesized stack on moto, with Lambda invokes routed to the real handlers."""
