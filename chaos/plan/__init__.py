"""Pure decisions over data: target choice, timelines, recovery, SLAs, drain rules."""
