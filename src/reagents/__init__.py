"""reagents: event-driven AI agents as reactive pipelines on reactivex."""
