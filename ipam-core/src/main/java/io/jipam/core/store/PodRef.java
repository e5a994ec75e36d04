package io.jipam.core.store;

/**
 * Who holds an attachment, as kubelet names it in CNI_ARGS ({@code K8S_POD_NAMESPACE},
 * {@code K8S_POD_NAME}); kept with the allocation so operators can see it. Either part may be
 * empty when the runtime did not say.
 */
public record PodRef(String namespace, String name) {
  public static final PodRef UNKNOWN = new PodRef("", "");

  public PodRef {
    namespace = namespace == null ? "" : namespace;
    name = name == null ? "" : name;
  }

  public boolean isKnown() {
    return !namespace.isEmpty() || !name.isEmpty();
  }

  @Override
  public String toString() {
    return isKnown() ? namespace + "/" + name : "-";
  }
}
