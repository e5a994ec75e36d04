package io.jipam.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * jipam-bench loads jetcd, which logs through SLF4J: bound to the provider jipamd uses
 * (slf4j-simple with ipam-server's settings: warnings and up), so nothing prints "No SLF4J
 * providers were found" and jetcd's info lines stay quiet.
 */
class Slf4jBindingTest {
  @Test
  void slf4j_onTheHarnessClassPath_boundToSimpleAtWarn() {
    String factory = LoggerFactory.getILoggerFactory().getClass().getName();
    assertFalse(factory.contains("NOP"), factory);
    assertEquals("org.slf4j.simple.SimpleLoggerFactory", factory);
    assertTrue(LoggerFactory.getLogger("io.etcd.jetcd").isWarnEnabled());
    assertFalse(LoggerFactory.getLogger("io.etcd.jetcd").isInfoEnabled());
  }
}
