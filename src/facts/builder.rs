//! Folds the flow table's TCP view and the TLS facts into `FlowFacts`.
