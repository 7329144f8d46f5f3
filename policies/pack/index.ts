import { PolicyPack } from "@pulumi/policy";
import { isPinned } from "../../stacks/services/images.ts";
new PolicyPack("bastide-rgpd", { policies: [{ name: "x", description: "d", enforcementLevel: "mandatory", validateResource: (a, r) => { if (!isPinned(a.props.name)) r("unpinned"); } }] });
