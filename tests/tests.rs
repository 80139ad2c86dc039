//! The single integration-test binary (one binary, topic modules).

mod util;

#[global_allocator]
static ALLOC: alloc_free::CountingAlloc = alloc_free::CountingAlloc;

mod alloc_free;

mod capture_corpus;
mod captures;
mod cli;
mod corpus;
mod layering;
mod live;
mod profile_cli;
mod report_format;
mod snapshots;
