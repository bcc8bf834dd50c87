// TcpProxy: a TCP forwarder on 127.0.0.1 that a test can freeze, so a real
// database server looks, from the client, exactly like a frozen one (a
// stopped VM or a SIGSTOPped server): connections stay open, bytes stop
// flowing both ways. Thawing lets them flow again. For statement-timeout
// tests, and for cutting every link at once (CutAll: the client sees the
// server close the connection, as after a server restart or a KILL); never
// points anywhere but the loopback servers of scripts/servers.sh.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace libshard::testing {

// The port in a "postgresql://host=… port=N …" / "mysql://…" URL; -1 when
// it names none.
int PortOfUrl(const std::string& url);
// `url` with its port replaced by `port`.
std::string WithPort(const std::string& url, int port);

class TcpProxy {
 public:
  // Forwards to 127.0.0.1:`target_port`; listens on an ephemeral port.
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void Freeze(bool frozen) { frozen_ = frozen; }
  // Closes every connection forwarded so far, both ways; new ones work.
  void CutAll();

 private:
  void AcceptLoop();
  void Pump(int client, int server);

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> frozen_{false};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;
  std::set<int> live_;  // sockets of forwarded connections still open (under mu_)
};

}  // namespace libshard::testing
