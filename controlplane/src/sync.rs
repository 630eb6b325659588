//! Store → snapshot synchronisation (list-then-watch). Work in progress.
