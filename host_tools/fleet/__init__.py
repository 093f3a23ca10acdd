# fleet: `nbkit fleet` (command.py) runs many virtual meters as independent cells (cell.py: one
# time master + one collector + M meters each), sharded over worker processes; plan.py checks
# the request and splits it; figures.py merges the cells' results.
