//! The picture of an STL file, as the worker draws it:
//! `cargo run -p render --example picture -- part.stl part.png [WIDTH HEIGHT]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, size @ ..] = args.as_slice() else {
        return Err("usage: picture IN.stl OUT.png [WIDTH HEIGHT]".into());
    };
    let mut options = render::Options::default();
    if let [width, height] = size {
        options = render::Options {
            width: width.parse()?,
            height: height.parse()?,
        };
    }
    let started = std::time::Instant::now();
    let png = render::picture(&std::fs::read(input)?, options)?;
    std::fs::write(output, &png)?;
    eprintln!("{output}: {} bytes in {:?}", png.len(), started.elapsed());
    Ok(())
}
