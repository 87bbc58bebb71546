{
  "targets": [
    {
      "target_name": "classwise_at",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": [],
          "outputs": ["<(PRODUCT_DIR)/classwise_at.node"],
          "action": ["node", "scripts/build-native.js", "<(PRODUCT_DIR)"]
        }
      ]
    }
  ]
}
