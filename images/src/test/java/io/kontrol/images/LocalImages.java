package io.kontrol.images;

import com.github.dockerjava.api.exception.NotFoundException;
import org.testcontainers.DockerClientFactory;

/** The project's images, which must be on this machine: no test pulls anything. */
final class LocalImages {

  static final String TAG = System.getProperty("kontrol.images.tag", "latest");
  static final String NATS = "kontrol/nats:" + TAG;
  static final String ETCD = "kontrol/etcd:" + TAG;

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
}
