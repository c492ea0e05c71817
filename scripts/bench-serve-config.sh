# Sourced by the serve benchmarks (bench-smtp.sh, bench-serve-memory.sh): the one `serve`
# configuration they share (docs/serve.md, "Configuration file").
#
#   bench_serve_config PORT SENDER RCPT RCPT_TOKEN > serve.toml
#
# One provider on loopback: trusted submission listener on PORT, submission PORT+1, HTTP
# PORT+2, relay PORT+3; two institution accounts at level high, password "bench", the
# recipient with an API token for the gateway.
bench_serve_config() {
  local port=$1 sender=$2 rcpt=$3 token=$4
  cat <<TOML
[[provider]]
id = "dmda-bench"
name = "DMDA Bench (simuliert)"
domain = "dmda-bench.de-mail.de"
hosts = ["bench.de-mail.de"]
trusted_smtp = "127.0.0.1:$port"
smtp = "127.0.0.1:$((port + 1))"
http = "127.0.0.1:$((port + 2))"
relay = "127.0.0.1:$((port + 3))"

[[provider.account]]
address = "$sender"
holder = "Bench-Behörde, Poststelle"
kind = "institution"
auth_level = "high"
password = "bench"

[[provider.account]]
address = "$rcpt"
holder = "Bench-Behörde, Eingang"
kind = "institution"
auth_level = "high"
password = "bench"
api_token = "$token"
access_opened = true
TOML
}
