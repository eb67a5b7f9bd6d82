//! `inspect` on about 10 MB of JPEG (noise with an EXIF segment to remove) and of PDF (one large
//! FlateDecode image stream to inflate and scan), reported as bytes per second.

mod support;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portal_sanitize::{Limits, Outcome, inspect};

fn inspect_large_files(c: &mut Criterion) {
    let limits = Limits::default();
    let inputs = [
        (
            "jpeg_10mb",
            "photo.jpg",
            support::noisy_jpeg_with_exif(2600, 2150),
        ),
        (
            "pdf_10mb",
            "scan.pdf",
            support::pdf_with_large_stream(10 * 1024 * 1024),
        ),
    ];

    let mut group = c.benchmark_group("inspect");
    group.sample_size(20);
    for (id, name, bytes) in &inputs {
        let outcome = inspect(name, "", bytes, &limits);
        let Outcome::Accepted { .. } = outcome else {
            panic!("{id} must be accepted, got {outcome:?}");
        };
        eprintln!("{id}: {} bytes", bytes.len());

        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(*id, |b| {
            b.iter(|| inspect(name, "", black_box(bytes), &limits))
        });
    }
    group.finish();
}

criterion_group!(benches, inspect_large_files);
criterion_main!(benches);
