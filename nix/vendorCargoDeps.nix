# vendorCargoDeps { src } or { cargoLock = ./Cargo.lock; }: every registry crate of Cargo.lock
# as a fixed-output derivation checked by the lock's sha256, unpacked into one directory with the
# `.cargo-checksum.json` cargo's directory sources need, and a `config.toml` that replaces
# crates.io with it (and sets net.offline). Only Cargo.lock is read: the result does not change
# when sources or workspace versions change. Git dependencies are not supported yet.
# It is vendorMultipleCargoDeps with one lock.
{ lib }:
{
  src ? null,
  cargoLock ? src + "/Cargo.lock",
  ...
}:
lib.vendorMultipleCargoDeps { cargoLockList = [ cargoLock ]; }
