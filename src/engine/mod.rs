//! Engine: drives capture → decode → flow → tls → facts → checks → report.
