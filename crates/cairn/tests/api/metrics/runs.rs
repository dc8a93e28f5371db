//! Collector runs: one per trigger key, claimed with a lease, taken over when the lease
//! expires, progress recorded only by the lease's holder.
