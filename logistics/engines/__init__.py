"""The routing engines behind one interface: a `Problem` of servable shipments in (the
precheck has taken out those no vehicle can serve), a `Solution` out, whose routes are timed
by `logistics.schedule` whichever engine ordered them."""
