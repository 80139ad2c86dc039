//! Flow stage: flow table and TCP reassembly.
