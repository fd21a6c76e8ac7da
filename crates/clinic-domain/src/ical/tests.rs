//! The feed read back by an independent parser (the `icalendar` crate),
//! every physical line checked and unfolded by a reader written here apart
//! from the code under test, fold points at multi-byte characters worked out
//! by hand, a golden feed written by hand, and property tests over arbitrary
//! text and times.

use chrono::{DateTime, TimeDelta, Utc};
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime, EventLike, EventStatus};
use proptest::prelude::*;
use uuid::Uuid;

use crate::ical::{check_event, content_type, render, Feed, FeedEvent, FeedStatus, PRODID};

const HOST: &str = "ketaclinic.example";

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A confirmed 40-minute event with no location or description.
fn event(uid: u128, start: &str, summary: &str) -> FeedEvent {
    FeedEvent {
        uid: id(uid),
        start: utc(start),
        end: utc(start) + TimeDelta::minutes(40),
        summary: summary.to_string(),
        location: None,
        description: None,
        status: FeedStatus::Confirmed,
        sequence: 0,
        last_modified: utc("2026-02-20T08:00:00Z"),
    }
}

fn feed(events: Vec<FeedEvent>) -> Feed {
    Feed {
        name: "Infusions, Main site".to_string(),
        host: HOST.to_string(),
        generated_at: utc("2026-03-01T12:00:00Z"),
        events,
    }
}

/// The physical lines of `text` (without their CRLF), each checked: the
/// text ends in CRLF, no line is empty or longer than 75 octets, no CR or
/// LF stands alone, and a line is folded only where the next character
/// would not fit.
fn physical_lines(text: &str) -> Vec<&str> {
    assert!(
        text.ends_with("\r\n"),
        "the text must end in CRLF: {text:?}"
    );
    let lines: Vec<&str> = text[..text.len() - 2].split("\r\n").collect();
    for (line_idx, line) in lines.iter().enumerate() {
        assert!(!line.is_empty(), "line {line_idx} is empty");
        assert!(
            line.len() <= 75,
            "line {line_idx} has {} octets: {line:?}",
            line.len()
        );
        assert!(
            !line.contains(['\r', '\n']),
            "line {line_idx} holds a bare CR or LF: {line:?}"
        );
        let next = lines.get(line_idx + 1).copied().unwrap_or("");
        if let Some(continued) = next.strip_prefix(' ') {
            let first = continued.chars().next().unwrap();
            assert!(
                line.len() + first.len_utf8() > 75,
                "line {line_idx} was folded early: {line:?} then {first:?}"
            );
        }
    }
    lines
}

/// RFC 5545 §3.1 unfolding: a physical line starting with a space or a tab
/// continues the line before it, less that one character.
fn unfold(text: &str) -> Vec<String> {
    let mut logical: Vec<String> = Vec::new();
    for line in physical_lines(text) {
        match line.strip_prefix([' ', '\t']) {
            Some(rest) => logical.last_mut().unwrap().push_str(rest),
            None => logical.push(line.to_string()),
        }
    }
    logical
}

/// RFC 5545 §3.3.11 unescaping of a TEXT value. A bare semicolon or comma,
/// or anything else after a backslash, fails the test.
fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        assert!(!matches!(c, ';' | ','), "bare {c:?} in {value:?}");
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(escaped @ ('\\' | ';' | ',')) => out.push(escaped),
            Some('n' | 'N') => out.push('\n'),
            other => panic!("bad escape \\{other:?} in {value:?}"),
        }
    }
    out
}

/// The values of every logical line named `name`, unescaped.
fn values(text: &str, name: &str) -> Vec<String> {
    let prefix = format!("{name}:");
    unfold(text)
        .iter()
        .filter_map(|line| line.strip_prefix(prefix.as_str()).map(unescape))
        .collect()
}

/// `text` less the control characters the feed drops.
fn kept(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

fn parse(text: &str) -> Calendar {
    text.parse::<Calendar>()
        .unwrap_or_else(|problem| panic!("the parser refused the feed: {problem}\n{text}"))
}

/// One event as the parser reads it, or as it should read.
#[derive(Debug, PartialEq)]
struct ReadBack {
    uid: Option<String>,
    stamp: Option<DateTime<Utc>>,
    start: Option<DatePerhapsTime>,
    end: Option<DatePerhapsTime>,
    summary: Option<String>,
    location: Option<String>,
    description: Option<String>,
    status: Option<EventStatus>,
    sequence: Option<u32>,
    last_modified: Option<DateTime<Utc>>,
}

fn read_back(calendar: &Calendar) -> Vec<ReadBack> {
    calendar
        .events()
        .map(|event| ReadBack {
            uid: event.get_uid().map(str::to_string),
            stamp: event.get_timestamp(),
            start: event.get_start(),
            end: event.get_end(),
            summary: event.get_summary().map(str::to_string),
            location: event.get_location().map(str::to_string),
            description: event.get_description().map(str::to_string),
            status: event.get_status(),
            sequence: event.get_sequence(),
            last_modified: event.get_last_modified(),
        })
        .collect()
}

fn utc_value(time: DateTime<Utc>) -> Option<DatePerhapsTime> {
    Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(time)))
}

/// What the parser should read for `event` of `feed` (times already whole
/// seconds, text with control characters dropped).
fn expected(feed: &Feed, event: &FeedEvent) -> ReadBack {
    ReadBack {
        uid: Some(format!("{}@{}", event.uid, kept(&feed.host))),
        stamp: Some(feed.generated_at),
        start: utc_value(event.start),
        end: utc_value(event.end),
        summary: Some(kept(&event.summary)),
        location: event.location.as_deref().map(kept),
        description: event.description.as_deref().map(kept),
        status: Some(match event.status {
            FeedStatus::Confirmed => EventStatus::Confirmed,
            FeedStatus::Cancelled => EventStatus::Cancelled,
        }),
        sequence: Some(u32::try_from(event.sequence).unwrap()),
        last_modified: Some(event.last_modified),
    }
}

#[track_caller]
fn check_calendar_properties(calendar: &Calendar, name: &str) {
    assert_eq!(calendar.property_value("VERSION"), Some("2.0"));
    assert_eq!(calendar.property_value("PRODID"), Some(PRODID));
    assert_eq!(calendar.property_value("CALSCALE"), Some("GREGORIAN"));
    assert_eq!(calendar.property_value("METHOD"), Some("PUBLISH"));
    assert_eq!(calendar.get_name(), Some(name));
}

const LONG_SPANISH: &str = "Sesión de integración — Ñ 🙂, grupo; sala \\3\nsegunda línea ";

/// Five events in no particular order: escapes everywhere, a long
/// non-ASCII summary, a cancelled booking, one with nothing optional, and
/// two that start together (ordered by id).
fn several() -> Feed {
    let mut escapes = event(
        0x30,
        "2026-03-02T14:30:00Z",
        "Infusion, chair 2; \\ 40 mg\nescort: J.",
    );
    escapes.location = Some("Main site, room 4; door \\B".to_string());
    escapes.description = Some("Line one,\nline two; \\done\n\nafter a blank line".to_string());
    escapes.sequence = 7;
    escapes.last_modified = utc("2026-02-27T09:15:42Z");

    let mut spanish = event(0x10, "2026-03-03T15:00:00Z", &LONG_SPANISH.repeat(3));
    spanish.location = Some("Clínica Ñandú — sala 3 🙂".repeat(4));
    spanish.description = Some(LONG_SPANISH.repeat(5));
    spanish.end = utc("2026-03-03T16:30:00Z");

    let mut cancelled = event(0x20, "2026-03-02T13:00:00Z", "Integration session");
    cancelled.status = FeedStatus::Cancelled;
    cancelled.sequence = 2;
    cancelled.location = Some(String::new());

    let plain = event(0x05, "2026-03-02T14:30:00Z", "Assessment");
    let last = event(0x01, "2026-03-09T08:00:00Z", "Follow-up");

    feed(vec![escapes, spanish, cancelled, last, plain])
}

#[test]
fn ical_parser_reads_back_every_property_of_every_event_in_order() {
    let feed = several();
    let text = render(&feed);
    let calendar = parse(&text);
    check_calendar_properties(&calendar, "Infusions, Main site");

    let by_uid = |uid: u128| feed.events.iter().find(|e| e.uid == id(uid)).unwrap();
    let want: Vec<ReadBack> = [0x20, 0x05, 0x30, 0x10, 0x01]
        .into_iter()
        .map(|uid| expected(&feed, by_uid(uid)))
        .collect();
    assert_eq!(read_back(&calendar), want);

    // The long Spanish summary really was folded, between characters.
    let summary_lines = physical_lines(&text)
        .into_iter()
        .skip_while(|line| !line.starts_with("SUMMARY:Sesión"))
        .take_while(|line| line.starts_with("SUMMARY:") || line.starts_with(' '))
        .count();
    assert!(summary_lines >= 3, "{summary_lines} lines");
}

#[test]
fn ical_empty_feed_is_a_calendar_without_events() {
    let text = render(&feed(Vec::new()));
    let calendar = parse(&text);
    check_calendar_properties(&calendar, "Infusions, Main site");
    assert!(read_back(&calendar).is_empty());
    assert_eq!(
        unfold(&text),
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//ketaclinic//clinician feed//EN",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:Infusions\\, Main site",
            "END:VCALENDAR",
        ]
    );
}

#[test]
fn ical_cancelled_booking_stays_with_status_cancelled() {
    let mut cancelled = event(0x20, "2026-03-02T13:00:00Z", "Ketamine infusion (chair 1)");
    cancelled.status = FeedStatus::Cancelled;
    cancelled.sequence = 4;
    let feed = feed(vec![cancelled]);
    let text = render(&feed);
    assert_eq!(values(&text, "STATUS"), ["CANCELLED"]);
    assert_eq!(values(&text, "SEQUENCE"), ["4"]);
    assert_eq!(read_back(&parse(&text)), [expected(&feed, &feed.events[0])]);
}

#[test]
fn ical_lines_end_in_crlf_fit_75_octets_and_unfold_to_the_logical_lines() {
    let feed = several();
    let text = render(&feed);
    let logical = unfold(&text);
    assert_eq!(logical.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert_eq!(logical.last().map(String::as_str), Some("END:VCALENDAR"));
    assert_eq!(
        logical
            .iter()
            .filter(|line| *line == "BEGIN:VEVENT")
            .count(),
        5
    );
    assert_eq!(
        values(&text, "SUMMARY"),
        [
            "Integration session".to_string(),
            "Assessment".to_string(),
            "Infusion, chair 2; \\ 40 mg\nescort: J.".to_string(),
            LONG_SPANISH.repeat(3),
            "Follow-up".to_string(),
        ]
    );
    assert_eq!(
        values(&text, "DTSTART"),
        [
            "20260302T130000Z",
            "20260302T143000Z",
            "20260302T143000Z",
            "20260303T150000Z",
            "20260309T080000Z"
        ]
    );
    assert_eq!(
        values(&text, "UID")[0],
        "00000000-0000-0000-0000-000000000020@ketaclinic.example"
    );
}

/// Hand-counted fold points: "SUMMARY:" is 8 octets, so 66 ASCII letters
/// bring a line to 74 and a 2-octet "é" no longer fits; 63 letters and a
/// 4-octet emoji fill exactly 75; an escape may be split across a fold.
#[test]
fn ical_folds_between_characters_at_75_octets() {
    #[track_caller]
    fn check(summary: &str, expect: &[&str]) {
        let text = render(&feed(vec![event(1, "2026-03-02T13:00:00Z", summary)]));
        let lines: Vec<&str> = physical_lines(&text)
            .into_iter()
            .skip_while(|line| !line.starts_with("SUMMARY:"))
            .take_while(|line| line.starts_with("SUMMARY:") || line.starts_with(' '))
            .collect();
        assert_eq!(lines, expect);
        assert_eq!(
            read_back(&parse(&text))[0].summary.as_deref(),
            Some(summary)
        );
    }
    let a66 = "a".repeat(66);
    let a64 = "a".repeat(64);
    let a63 = "a".repeat(63);
    let a67 = "a".repeat(67);

    check(&format!("{a66}éb"), &[&format!("SUMMARY:{a66}"), " éb"]);
    check(&format!("{a67}é"), &[&format!("SUMMARY:{a67}"), " é"]);
    check(&format!("{a64}🙂"), &[&format!("SUMMARY:{a64}"), " 🙂"]);
    check(&format!("{a63}🙂"), &[&format!("SUMMARY:{a63}🙂")]);
    check(&format!("{a66},x"), &[&format!("SUMMARY:{a66}\\"), " ,x"]);
    // A continuation line holds 74 octets after its space: 37 two-octet
    // characters, then the 38th moves on.
    let n_tildes = "ñ".repeat(33 + 37 + 1);
    let first = format!("SUMMARY:{}", "ñ".repeat(33));
    let second = format!(" {}", "ñ".repeat(37));
    check(&n_tildes, &[first.as_str(), second.as_str(), " ñ"]);
}

#[test]
fn ical_control_characters_are_dropped_newline_and_tab_kept() {
    let mut controlled = event(
        1,
        "2026-03-02T13:00:00Z",
        "a\u{0}b\u{7}c\r\nd\te\u{7f}f\u{85}g\u{1b}[31mh",
    );
    controlled.location = Some("room\u{c}\u{8} 2\r".to_string());
    let mut feed = feed(vec![controlled]);
    feed.name = "Feed\u{0} name".to_string();
    feed.host = "ketaclinic\u{1}.example".to_string();
    let text = render(&feed);
    for c in text.chars() {
        assert!(
            !c.is_control() || matches!(c, '\r' | '\n' | '\t'),
            "{c:?} reached the output"
        );
    }
    let calendar = parse(&text);
    assert_eq!(calendar.get_name(), Some("Feed name"));
    let read = read_back(&calendar);
    assert_eq!(read[0].summary.as_deref(), Some("abc\nd\tefg[31mh"));
    assert_eq!(read[0].location.as_deref(), Some("room 2"));
    assert_eq!(read[0].uid, Some(format!("{}@ketaclinic.example", id(1))));
}

#[test]
fn ical_same_input_gives_same_bytes_whatever_the_event_order() {
    let feed = several();
    let text = render(&feed);
    assert_eq!(render(&feed.clone()), text);
    let mut reversed = feed.clone();
    reversed.events.reverse();
    assert_eq!(render(&reversed), text);
}

/// Written by hand from RFC 5545, not produced by `render`. Events given
/// out of order; the description's fold falls before a space, so the
/// continuation starts with two.
const GOLDEN: &str = concat!(
    "BEGIN:VCALENDAR\r\n",
    "VERSION:2.0\r\n",
    "PRODID:-//ketaclinic//clinician feed//EN\r\n",
    "CALSCALE:GREGORIAN\r\n",
    "METHOD:PUBLISH\r\n",
    "X-WR-CALNAME:Infusions\\, Main site\r\n",
    "BEGIN:VEVENT\r\n",
    "UID:00000000-0000-0000-0000-0000000000b1@ketaclinic.example\r\n",
    "DTSTAMP:20260301T120000Z\r\n",
    "DTSTART:20260302T130000Z\r\n",
    "DTEND:20260302T135000Z\r\n",
    "SUMMARY:Sesión de integración\r\n",
    "STATUS:CANCELLED\r\n",
    "SEQUENCE:1\r\n",
    "LAST-MODIFIED:20260228T164530Z\r\n",
    "END:VEVENT\r\n",
    "BEGIN:VEVENT\r\n",
    "UID:00000000-0000-0000-0000-0000000000b2@ketaclinic.example\r\n",
    "DTSTAMP:20260301T120000Z\r\n",
    "DTSTART:20260302T143000Z\r\n",
    "DTEND:20260302T151000Z\r\n",
    "SUMMARY:Ketamine infusion (chair 2)\r\n",
    "LOCATION:Main site\\; chair 2\r\n",
    "DESCRIPTION:Arrive 30 minutes early\\; nothing to eat for 6 hours before the\r\n",
    "  session.\\nBring the escort's phone number.\r\n",
    "STATUS:CONFIRMED\r\n",
    "SEQUENCE:3\r\n",
    "LAST-MODIFIED:20260227T091500Z\r\n",
    "END:VEVENT\r\n",
    "END:VCALENDAR\r\n",
);

#[test]
fn ical_golden_small_feed() {
    let infusion = FeedEvent {
        uid: id(0xb2),
        start: utc("2026-03-02T14:30:00Z"),
        end: utc("2026-03-02T15:10:00Z"),
        summary: "Ketamine infusion (chair 2)".to_string(),
        location: Some("Main site; chair 2".to_string()),
        description: Some(
            "Arrive 30 minutes early; nothing to eat for 6 hours before the session.\n\
             Bring the escort's phone number."
                .to_string(),
        ),
        status: FeedStatus::Confirmed,
        sequence: 3,
        last_modified: utc("2026-02-27T09:15:00Z"),
    };
    let integration = FeedEvent {
        uid: id(0xb1),
        start: utc("2026-03-02T13:00:00Z"),
        end: utc("2026-03-02T13:50:00Z"),
        summary: "Sesión de integración".to_string(),
        location: None,
        description: None,
        status: FeedStatus::Cancelled,
        sequence: 1,
        last_modified: utc("2026-02-28T16:45:30.750Z"),
    };
    assert_eq!(render(&feed(vec![infusion, integration])), GOLDEN);
}

#[test]
fn ical_events_that_cannot_be_written_are_refused_by_field_and_left_out() {
    #[track_caller]
    fn check(event: FeedEvent, expect_fields: &[&str]) {
        let fields: Vec<String> = match check_event(&event) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.0.into_iter().map(|e| e.field).collect(),
        };
        assert_eq!(fields, expect_fields);
        let text = render(&feed(vec![
            event,
            self::event(2, "2026-03-02T09:00:00Z", "Kept"),
        ]));
        let n_events = if expect_fields.is_empty() { 2 } else { 1 };
        assert_eq!(read_back(&parse(&text)).len(), n_events);
        assert_eq!(
            values(&text, "SUMMARY").last().map(String::as_str),
            Some(if n_events == 2 { "Fine" } else { "Kept" })
        );
    }
    let fine = || event(1, "2026-03-02T13:00:00Z", "Fine");

    check(fine(), &[]);
    let mut backwards = fine();
    backwards.end = backwards.start - TimeDelta::minutes(1);
    check(backwards, &["end"]);
    let mut empty = fine();
    empty.end = empty.start;
    check(empty, &["end"]);
    let mut far = fine();
    far.start = utc("9999-12-31T23:00:00Z");
    far.end = far.start + TimeDelta::hours(2);
    check(far, &["end"]);
    let mut ancient = fine();
    ancient.start = utc("0000-01-01T00:00:00Z") - TimeDelta::hours(1);
    ancient.last_modified = ancient.start;
    check(ancient, &["start", "last_modified"]);
    let mut negative = fine();
    negative.sequence = -1;
    check(negative, &["sequence"]);
    let mut huge = fine();
    huge.sequence = 2_147_483_648;
    check(huge, &["sequence"]);
    let mut largest = fine();
    largest.sequence = 2_147_483_647;
    check(largest, &[]);
}

#[test]
fn ical_stamp_outside_four_digit_years_is_clamped() {
    let mut late = feed(vec![event(1, "2026-03-02T13:00:00Z", "Fine")]);
    late.generated_at = utc("9999-12-31T23:59:59Z") + TimeDelta::seconds(1);
    assert_eq!(values(&render(&late), "DTSTAMP"), ["99991231T235959Z"]);
    late.generated_at = utc("0000-01-01T00:00:00Z") - TimeDelta::seconds(1);
    assert_eq!(values(&render(&late), "DTSTAMP"), ["00000101T000000Z"]);
}

#[test]
fn ical_content_type_is_text_calendar_in_utf8() {
    assert_eq!(content_type(), "text/calendar; charset=utf-8");
}

/// Text drawn mostly from the characters that matter here (escapes,
/// controls, multi-byte characters, spaces at a fold), and any character.
fn any_text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\\', ';', ',', ':', '"', '\n', '\r', '\t', ' ', '\u{0}', '\u{7}', '\u{1b}', '\u{7f}',
        '\u{85}', '\u{9f}', 'é', 'Ñ', '—', '€', '🙂', '𝄞', '\u{2028}', '\u{feff}',
    ]);
    let letter = prop::sample::select(vec!['a', 'Z', '0', '(', ')', '.']);
    let one = prop_oneof![3 => special, 2 => letter, 1 => any::<char>()];
    prop::collection::vec(one, 0..300).prop_map(|chars| chars.into_iter().collect())
}

fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
    // 1900 to 2200, whole seconds.
    (-2_208_988_800_i64..7_258_118_400)
        .prop_map(|seconds| DateTime::from_timestamp(seconds, 0).unwrap())
}

fn any_event() -> impl Strategy<Value = FeedEvent> {
    (
        any::<u128>(),
        any_time(),
        1_i64..100_000,
        any_text(),
        prop::option::of(any_text()),
        prop::option::of(any_text()),
        any::<bool>(),
        0_i64..=2_147_483_647,
        any_time(),
    )
        .prop_map(
            |(
                uid,
                start,
                minutes,
                summary,
                location,
                description,
                cancelled,
                sequence,
                last_modified,
            )| {
                FeedEvent {
                    uid: Uuid::from_u128(uid),
                    start,
                    end: start + TimeDelta::minutes(minutes),
                    summary,
                    location,
                    description,
                    status: if cancelled {
                        FeedStatus::Cancelled
                    } else {
                        FeedStatus::Confirmed
                    },
                    sequence,
                    last_modified,
                }
            },
        )
}

fn any_feed() -> impl Strategy<Value = Feed> {
    (
        any_text(),
        any_text(),
        any_time(),
        prop::collection::vec(any_event(), 0..6),
    )
        .prop_map(|(name, host, generated_at, events)| Feed {
            name,
            host,
            generated_at,
            events,
        })
}

/// Any instant chrono holds, weighted toward the edges of the years
/// 0000–9999.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let first = DateTime::<Utc>::MIN_UTC.timestamp();
    let last = DateTime::<Utc>::MAX_UTC.timestamp();
    let year_0 = utc("0000-01-01T00:00:00Z").timestamp();
    let year_10000 = utc("9999-12-31T23:59:59Z").timestamp() + 1;
    let seconds = prop_oneof![
        first..=last,
        year_0 - 100_000..year_0 + 100_000,
        year_10000 - 100_000..year_10000 + 100_000,
    ];
    (seconds, 0_u32..1_000_000_000)
        .prop_map(|(seconds, nanos)| DateTime::from_timestamp(seconds, nanos).unwrap())
}

/// Any instants (or an end 40 minutes after the start), any sequence (or
/// one in range).
fn any_wild_event() -> impl Strategy<Value = FeedEvent> {
    let end = prop_oneof![any_instant().prop_map(Some), Just(None)];
    let sequence = prop_oneof![any::<i64>(), 0_i64..=2_147_483_647];
    (any::<u128>(), any_instant(), end, sequence, any_instant()).prop_map(
        |(uid, start, end, sequence, last_modified)| FeedEvent {
            uid: Uuid::from_u128(uid),
            start,
            end: end.unwrap_or_else(|| {
                start
                    .checked_add_signed(TimeDelta::minutes(40))
                    .unwrap_or(start)
            }),
            summary: "Wild".to_string(),
            location: None,
            description: None,
            status: FeedStatus::Confirmed,
            sequence,
            last_modified,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ical_any_text_round_trips_through_folding_and_escaping(feed in any_feed()) {
        let text = render(&feed);
        // Lines and unfolding, read here.
        let mut sorted = feed.events.clone();
        sorted.sort_by(|a, b| a.start.cmp(&b.start).then(a.uid.cmp(&b.uid)));
        let want = |pick: fn(&FeedEvent) -> Option<&String>| -> Vec<String> {
            sorted.iter().filter_map(pick).map(|text| kept(text)).collect()
        };
        prop_assert_eq!(values(&text, "X-WR-CALNAME"), vec![kept(&feed.name)]);
        prop_assert_eq!(values(&text, "SUMMARY"), want(|e| Some(&e.summary)));
        prop_assert_eq!(values(&text, "LOCATION"), want(|e| e.location.as_ref()));
        prop_assert_eq!(values(&text, "DESCRIPTION"), want(|e| e.description.as_ref()));
        // And by the independent parser.
        let calendar = parse(&text);
        let name = kept(&feed.name);
        prop_assert_eq!(calendar.get_name(), Some(name.as_str()));
        let expect: Vec<ReadBack> = sorted.iter().map(|event| expected(&feed, event)).collect();
        prop_assert_eq!(read_back(&calendar), expect);
    }

    #[test]
    fn ical_any_times_and_sequences_never_panic_and_refused_events_are_left_out(
        events in prop::collection::vec(any_wild_event(), 0..8),
        generated_at in any_instant(),
    ) {
        let feed = Feed { name: "Wild".to_string(), host: HOST.to_string(), generated_at, events };
        let text = render(&feed);
        let n_writable = feed.events.iter().filter(|event| check_event(event).is_ok()).count();
        let logical = unfold(&text);
        prop_assert_eq!(logical.iter().filter(|line| *line == "BEGIN:VEVENT").count(), n_writable);
        for line in &logical {
            if let Some(time) = ["DTSTAMP:", "DTSTART:", "DTEND:", "LAST-MODIFIED:"]
                .iter()
                .find_map(|name| line.strip_prefix(name))
            {
                prop_assert_eq!(time.len(), 16, "{}", line);
                prop_assert!(time.bytes().enumerate().all(|(i, b)| match i {
                    8 => b == b'T',
                    15 => b == b'Z',
                    _ => b.is_ascii_digit(),
                }), "{}", line);
            }
        }
        prop_assert_eq!(read_back(&parse(&text)).len(), n_writable);
    }
}
