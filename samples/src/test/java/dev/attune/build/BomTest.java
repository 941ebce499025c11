package dev.attune.build;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The BOM a consumer imports pins every published module at the build's version: a module added to
 * the reactor without a BOM entry, or a BOM left at an old version, fails here.
 */
class BomTest {
    private static final Path ROOT = Path.of(System.getProperty("attune.root", "..")).toAbsolutePath().normalize();

    @Test
    void bomListsEveryPublishedModuleAtTheParentsVersion() throws Exception {
        Document parent = read(ROOT.resolve("pom.xml"));
        Document bom = read(ROOT.resolve("bom/pom.xml"));
        String version = child(parent.getDocumentElement(), "version");
        assertThat(child(bom.getDocumentElement(), "version")).as("bom version").isEqualTo(version);

        TreeSet<String> published = new TreeSet<>();
        NodeList modules = parent.getElementsByTagName("module");
        for (int i = 0; i < modules.getLength(); i++) {
            String dir = modules.item(i).getTextContent().trim();
            if (dir.equals("bom") || dir.equals("samples")) {
                continue; // the BOM itself, and the command line, which is not a library
            }
            Document module = read(ROOT.resolve(dir).resolve("pom.xml"));
            published.add(child(module.getDocumentElement(), "artifactId"));
        }
        TreeSet<String> pinned = new TreeSet<>();
        Element management = (Element) bom.getElementsByTagName("dependencyManagement").item(0);
        NodeList deps = management.getElementsByTagName("dependency");
        for (int i = 0; i < deps.getLength(); i++) {
            Element d = (Element) deps.item(i);
            assertThat(child(d, "groupId")).isEqualTo("dev.attune");
            assertThat(child(d, "version")).isEqualTo("${attune.version}");
            pinned.add(child(d, "artifactId"));
        }
        assertThat(published).isNotEmpty();
        assertThat(pinned).as("modules pinned by bom/pom.xml").isEqualTo(published);
    }

    private static Document read(Path pom) throws Exception {
        assertThat(pom).exists();
        return DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Files.newInputStream(pom));
    }

    /** @return the text of the element's direct child with that name */
    private static String child(Element parent, String name) {
        List<String> found = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && e.getTagName().equals(name)) {
                found.add(e.getTextContent().trim());
            }
        }
        assertThat(found).as(name + " of " + parent.getTagName()).hasSize(1);
        return found.get(0);
    }
}
