package io.kontrol.images;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.model.ContainerNetwork;
import com.github.dockerjava.api.model.Network.Ipam;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.Network;

/**
 * Network faults for the end-to-end tests: a Docker network with a subnet of its own (so that a
 * container cut off with {@code docker network disconnect} can come back with the very IP it had,
 * as a partitioned pod does), and the cut and the heal themselves.
 */
final class DockerNetworks {
  private DockerNetworks() {}

  /** A new network on a free 10.213.x.0/24 (Docker refuses a pool that overlaps another). */
  static Network withOwnSubnet() {
    DockerException last = null;
    for (int attempt = 0; attempt < 20; attempt++) {
      String subnet = "10.213." + ThreadLocalRandom.current().nextInt(1, 255) + ".0/24";
      Network n =
          Network.builder()
              .createNetworkCmdModifier(
                  cmd -> cmd.withIpam(new Ipam().withConfig(new Ipam.Config().withSubnet(subnet))))
              .build();
      try {
        n.getId(); // created lazily
        return n;
      } catch (DockerException e) {
        last = e;
        n.close();
      } catch (RuntimeException e) {
        if (e.getCause() instanceof DockerException de) {
          last = de;
          n.close();
        } else {
          throw e;
        }
      }
    }
    throw new IllegalStateException("no free 10.213.x.0/24 subnet for a test network", last);
  }

  /** The container's IP on {@code network}, or null when it is not attached to it. */
  static String ip(String containerId, Network network) {
    Map<String, ContainerNetwork> nets =
        docker().inspectContainerCmd(containerId).exec().getNetworkSettings().getNetworks();
    for (ContainerNetwork n : nets.values()) {
      if (network.getId().equals(n.getNetworkID())) {
        return n.getIpAddress();
      }
    }
    return null;
  }

  /** {@code docker network disconnect}: the container's interface on {@code network} is gone. */
  static void cut(String containerId, Network network) {
    docker().disconnectFromNetworkCmd().withContainerId(containerId).withNetworkId(network.getId()).withForce(true).exec();
  }

  /** {@code docker network connect --ip IP [--alias A...]}: back with the address it had. */
  static void connect(String containerId, Network network, String ip, List<String> aliases) {
    ContainerNetwork endpoint = new ContainerNetwork().withIpamConfig(new ContainerNetwork.Ipam().withIpv4Address(ip));
    if (!aliases.isEmpty()) {
      endpoint.withAliases(aliases);
    }
    docker().connectToNetworkCmd().withContainerId(containerId).withNetworkId(network.getId()).withContainerNetwork(endpoint).exec();
  }

  /** {@code docker network connect} with any free address; returns it. */
  static String connect(String containerId, Network network) {
    docker().connectToNetworkCmd().withContainerId(containerId).withNetworkId(network.getId()).exec();
    return ip(containerId, network);
  }

  static DockerClient docker() {
    return DockerClientFactory.instance().client();
  }
}
