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

  // equals and hashCode written out: the generated ones bootstrap method handles on first use,
  // which a one-shot plugin process pays for on every call
  @Override
  public boolean equals(Object other) {
    return other instanceof PodRef o && java.util.Objects.equals(namespace, o.namespace) && java.util.Objects.equals(name, o.name);
  }

  @Override
  public int hashCode() {
    return namespace.hashCode() * 31 + name.hashCode();
  }
}
