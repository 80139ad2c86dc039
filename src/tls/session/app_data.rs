//! Application-data evidence: record counts, sizes and versions, the
//! minimal-size (possible empty-fragment) records and what followed them,
//! and the short-length counts kept while the suite is unknown.

use crate::decode::Dir;

use super::super::model::{FrameNo, ShortRecordStats, Step, TimelineEvent, TlsVersion};
use super::record_stream::Rec;
use super::{push_capped, Core, MAX_EVIDENCE_FRAMES, MAX_RECORD_VERSIONS};

/// Longest record length tracked as a possible empty fragment while the
/// suite is not known: 64 covers every CBC suite's minimal record (3DES-SHA
/// under TLS 1.0 is 24, AES-SHA384 with an explicit IV 80 is past it and is
/// left unknown).
const MAX_SHORT_RECORD_LEN: usize = 64;
/// Distinct short lengths tracked per direction.
const MAX_SHORT_LENGTHS: usize = 8;

impl Core {
    /// One application-data record on the timeline: joins the step before
    /// it when that is application data of the same direction, or of any
    /// direction once both have sent some (see [`Step::AppData`]).
    pub(super) fn step_app_data(&mut self, dir: Dir, frame: FrameNo) {
        let both_spoke = self.facts.per_dir.iter().all(|p| p.app_data.records > 0);
        let now = self.now;
        if let Some(TimelineEvent {
            dir: run_dir,
            step:
                Step::AppData {
                    records,
                    last_frame,
                    last_ts,
                },
            ..
        }) = self.facts.timeline.last_mut()
        {
            if *run_dir == dir || both_spoke {
                records[dir.index()] += 1;
                *last_frame = frame;
                *last_ts = now;
                return;
            }
        }
        let mut records = [0; 2];
        records[dir.index()] = 1;
        self.step(
            dir,
            frame,
            Step::AppData {
                records,
                last_frame: frame,
                last_ts: now,
            },
        );
    }

    pub(super) fn on_app_data(&mut self, dir: Dir, rec: &Rec, frame: FrameNo) {
        let d = dir.index();
        let sh_seen = self.facts.server_hello.is_some();
        if self.tls13 && sh_seen && self.facts.per_dir[d].encrypted_handshake.is_none() {
            // TLS 1.3: the first protected record of each side after the
            // ServerHello carries its handshake (server flight / client Finished).
            self.mark_encrypted_handshake(dir, frame);
            return;
        }
        self.app_data_stats(dir, rec, frame);
    }

    /// Record-size statistics of one application-data record (spec §3.3 wire rungs).
    pub(super) fn app_data_stats(&mut self, dir: Dir, rec: &Rec, frame: FrameNo) {
        self.step_app_data(dir, frame);
        let d = dir.index();
        let ctx = &mut self.dirs[d];
        let st = &mut self.facts.per_dir[d].app_data;
        st.records += 1;
        st.bytes += rec.len as u64;
        st.first_frame.get_or_insert(frame);
        let v = TlsVersion(rec.version);
        if !st.record_versions.iter().any(|(seen, _)| *seen == v) {
            push_capped(&mut st.record_versions, (v, frame), MAX_RECORD_VERSIONS);
        }
        st.sample_length(rec.len as u16, frame);
        if rec.len == 0 {
            st.zero_length_records += 1;
            push_capped(&mut st.zero_length_frames, frame, MAX_EVIDENCE_FRAMES);
        }
        if let Some((mframe, mcall, mlen)) = ctx.pending_minimal.take() {
            let same = mcall == rec.start_call;
            if st.minimal_len.is_some() {
                if same {
                    st.minimal_then_same_segment += 1;
                    push_capped(&mut st.same_segment_frames, mframe, MAX_EVIDENCE_FRAMES);
                } else {
                    st.minimal_then_later_segment += 1;
                    push_capped(&mut st.later_segment_frames, mframe, MAX_EVIDENCE_FRAMES);
                }
            } else if let Some(c) = st.short_records.iter_mut().find(|c| c.len == mlen) {
                c.followed(same, mframe);
            }
        }
        if st.minimal_len.is_some_and(|m| usize::from(m) == rec.len) {
            st.minimal_records += 1;
            ctx.pending_minimal = Some((frame, rec.start_call, rec.len as u16));
        } else if st.minimal_len.is_none() && (1..=MAX_SHORT_RECORD_LEN).contains(&rec.len) {
            // Suite not known (joined mid-stream): keep the ladder's counts
            // for each short length, one of which is the minimal size the
            // checks may infer later from the record lengths.
            let len = rec.len as u16;
            let known = st.short_records.iter().position(|c| c.len == len);
            let at = match known {
                Some(i) => Some(i),
                None if st.short_records.len() < MAX_SHORT_LENGTHS => {
                    st.short_records.push(ShortRecordStats {
                        len,
                        ..ShortRecordStats::default()
                    });
                    Some(st.short_records.len() - 1)
                }
                None => None,
            };
            if let Some(i) = at {
                let c = &mut st.short_records[i];
                c.records += 1;
                ctx.pending_minimal = Some((frame, rec.start_call, len));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Session;
    use super::*;
    use crate::capture::Timestamp;
    use crate::tls::TlsLimits;

    fn app_record(len: usize) -> Vec<u8> {
        let mut r = vec![23, 3, 1, (len >> 8) as u8, len as u8];
        r.resize(5 + len, 0x5a);
        r
    }

    #[test]
    fn short_records_of_an_unknown_suite_are_counted_per_length_with_their_successor() {
        let mut s = Session::new(TlsLimits::default());
        let ts = Timestamp::default();
        // Joined mid-stream: three chained records make the boundary sure.
        let first = [app_record(24), app_record(300), app_record(24)].concat();
        s.on_data(Dir::AB, &first, 1, ts);
        s.on_data(Dir::AB, &app_record(300), 2, ts);
        let f = s.finish();
        let st = &f.per_dir[0].app_data;
        assert_eq!(st.records, 4);
        assert_eq!(st.bytes, 24 + 300 + 24 + 300);
        assert_eq!(st.minimal_len, None);
        assert_eq!(st.short_records.len(), 1);
        let c = &st.short_records[0];
        assert_eq!((c.len, c.records), (24, 2));
        assert_eq!((c.then_same_segment, c.then_later_segment), (1, 1));
    }

    #[test]
    fn short_lengths_tracked_are_capped() {
        let mut s = Session::new(TlsLimits::default());
        let lens: Vec<usize> = (1..=MAX_SHORT_LENGTHS + 3).collect();
        let stream: Vec<u8> = lens.iter().flat_map(|&l| app_record(l)).collect();
        s.on_data(Dir::AB, &stream, 1, Timestamp::default());
        let f = s.finish();
        let st = &f.per_dir[0].app_data;
        assert_eq!(st.records, lens.len() as u64);
        assert_eq!(st.short_records.len(), MAX_SHORT_LENGTHS);
    }

    #[test]
    fn application_data_of_both_sides_joins_one_timeline_step() {
        let mut s = Session::new(TlsLimits::default());
        let ts = Timestamp::default();
        let three = [app_record(100), app_record(100), app_record(100)].concat();
        s.on_data(Dir::AB, &three, 1, ts);
        s.on_data(Dir::BA, &three, 2, ts);
        s.on_data(Dir::AB, &app_record(100), 3, ts);
        let f = s.finish();
        let app_steps: Vec<_> = f
            .timeline
            .iter()
            .filter_map(|e| match e.step {
                Step::AppData { records, .. } => Some(records),
                _ => None,
            })
            .collect();
        // The server's run starts a step of its own; once both spoke,
        // everything joins the last step.
        assert_eq!(app_steps, vec![[3, 0], [1, 3]]);
    }
}
