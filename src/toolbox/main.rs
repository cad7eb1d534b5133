//! The `toolbox` binary: the workshop's busybox-like stand-in for httpd, nc, wget and ping.
//! Everything is in the library's [`workshop::toolbox`]; this only hands it the arguments.

fn main() {
    std::process::exit(workshop::toolbox::run(std::env::args_os().collect()));
}
