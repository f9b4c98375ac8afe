"""Plain Rx operators for agent event streams (usable in ``Observable.pipe``)."""
