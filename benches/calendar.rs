//! Criterion benchmarks of the legal calendar (`demail_sim::law`): how many
//! deadline computations per second the module manages.
//!
//! - `widerspruch`: `law::compute("widerspruch", …)` (§ 70 VwGO, one month with
//!   the § 31 Abs. 3 VwVfG shift) over 1,000 precomputed event dates in Dresden.
//! - `frist_end_1_month`: `law::frist_end` with a one-month period over the same dates.
//! - `holidays_one_year`: `law::holidays(place, year)` for one place and year.
//!
//! The fast path without explanations (same dates, same code; see `docs/calendar.md`):
//! - `compute_date_widerspruch_x1000`: `law::compute_date("widerspruch", …)`.
//! - `frist_end_date_1_month_x1000`: `law::frist_end_date` with a one-month period.
//! - `holiday_days_one_year`: `law::holiday_days(place, year)`, the day set only.
//!
//! The `_x1000` benches report throughput in elements (= deadline computations)
//! per second. Run with
//! `cargo bench -p demail-sim --bench calendar -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use demail_sim::law::{self, Basis, Land, Options, Period, Place};
use jiff::civil::Date;

/// Number of event dates per benchmark iteration.
const N: usize = 1_000;

/// 1,000 event dates, every 3rd day from 2024-01-01 (to mid-2032), so that
/// weekday, month-end and holiday cases all occur.
fn event_dates() -> Vec<Date> {
    let start = Date::constant(2024, 1, 1);
    (0..N)
        .map(|i| {
            start
                .checked_add(jiff::Span::new().days(3 * i as i64))
                .expect("dates stay within jiff's range")
        })
        .collect()
}

fn dresden() -> Place {
    Place::municipality(Land::Sachsen, "Dresden")
}

fn bench_compute_widerspruch(c: &mut Criterion) {
    let dates = event_dates();
    let place = dresden();
    let options = Options::default();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("widerspruch_x1000", |b| {
        b.iter(|| {
            for &date in &dates {
                let deadline =
                    law::compute(black_box("widerspruch"), black_box(date), &place, &options)
                        .expect("widerspruch is defined for every date in 2024–2032");
                black_box(deadline);
            }
        })
    });
    group.finish();
}

fn bench_frist_end_month(c: &mut Criterion) {
    let dates = event_dates();
    let place = dresden();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("frist_end_1_month_x1000", |b| {
        b.iter(|| {
            for &date in &dates {
                let end = law::frist_end(black_box(date), Period::months(1), &place, Basis::VwVfG)
                    .expect("a one-month period from 2024–2032 stays in range");
                black_box(end);
            }
        })
    });
    group.finish();
}

fn bench_holidays_year(c: &mut Criterion) {
    let place = dresden();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(1));
    group.bench_function("holidays_one_year", |b| {
        b.iter(|| black_box(law::holidays(&place, black_box(2025)).expect("2025 is in range")))
    });
    group.finish();
}

fn bench_compute_date_widerspruch(c: &mut Criterion) {
    let dates = event_dates();
    let place = dresden();
    let options = Options::default();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("compute_date_widerspruch_x1000", |b| {
        b.iter(|| {
            for &date in &dates {
                let when =
                    law::compute_date(black_box("widerspruch"), black_box(date), &place, &options)
                        .expect("widerspruch is defined for every date in 2024–2032");
                black_box(when);
            }
        })
    });
    group.finish();
}

fn bench_frist_end_date_month(c: &mut Criterion) {
    let dates = event_dates();
    let place = dresden();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("frist_end_date_1_month_x1000", |b| {
        b.iter(|| {
            for &date in &dates {
                let end = law::frist_end_date(black_box(date), Period::months(1), &place)
                    .expect("a one-month period from 2024–2032 stays in range");
                black_box(end);
            }
        })
    });
    group.finish();
}

fn bench_holiday_days_year(c: &mut Criterion) {
    let place = dresden();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(1));
    group.bench_function("holiday_days_one_year", |b| {
        b.iter(|| black_box(law::holiday_days(&place, black_box(2025)).expect("2025 is in range")))
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_compute_widerspruch,
    bench_frist_end_month,
    bench_holidays_year,
    bench_compute_date_widerspruch,
    bench_frist_end_date_month,
    bench_holiday_days_year
);
criterion_main!(benches);
