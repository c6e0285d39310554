package io.kontrol.images;

import com.github.dockerjava.api.exception.NotFoundException;
import java.time.Duration;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.wait.strategy.Wait;

/** The project's images, which must be on this machine: no test pulls anything. */
final class LocalImages {

  static final String TAG = System.getProperty("kontrol.images.tag", "latest");
  static final String NATS = "kontrol/nats:" + TAG;
  static final String ETCD = "kontrol/etcd:" + TAG;
  static final String KAFKA = "kontrol/kafka:" + TAG;
  static final String HAPROXY = "kontrol/haproxy:" + TAG;

  private LocalImages() {}

  /** Fails at once, with what to do, when an image is not local. */
  static void require(String... images) {
    for (String image : images) {
      try {
        DockerClientFactory.instance().client().inspectImageCmd(image).exec();
      } catch (NotFoundException e) {
        throw new IllegalStateException(
            "image " + image + " is not on this machine: build it with images/build"
                + " (mvn verify does so before the tests); no test pulls an image");
      }
    }
  }

  /** The test etcd, as {@code etcd:2379} on the network; not started. */
  @SuppressWarnings("resource")
  static GenericContainer<?> etcd(Network network) {
    return new GenericContainer<>(ETCD)
        .withNetwork(network)
        .withNetworkAliases("etcd")
        .withCreateContainerCmdModifier(cmd -> cmd.withName("kontrol-it-etcd-" + System.nanoTime()))
        .waitingFor(Wait.forLogMessage(".*ready to serve client requests.*", 1))
        .withStartupTimeout(Duration.ofSeconds(60));
  }
}
